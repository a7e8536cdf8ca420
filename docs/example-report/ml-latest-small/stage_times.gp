set datafile separator ','
set datafile columnheaders
set terminal png size 900,540 font ',11' noenhanced
set grid
set key outside right
set output 'stage_times.png'
set title 'wall time per stage'
set style data histograms
set style fill solid 0.8 border -1
set ylabel 'seconds'
set key off
set xtics rotate by -30
plot 'stage_times.csv' using 2:xtic(1)
